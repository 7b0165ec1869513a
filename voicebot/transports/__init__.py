"""Transports move frames in and bot audio out: replay (WAV files / text), mic, SIP."""
