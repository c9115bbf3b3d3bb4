"""UniAV Studio: unified audio-visual event localization (TAL, AVEL, SED) with one model."""

__version__ = "0.1.0"
