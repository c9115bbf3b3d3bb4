"""From media files to detections: the Detector, long-input windows and result formats."""
