"""The Firmware Update System: catalogue, metadata, targeting, QRC, downloads, carousels, rollouts."""
