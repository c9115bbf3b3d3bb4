"""Media decoding and the snippet grid."""
