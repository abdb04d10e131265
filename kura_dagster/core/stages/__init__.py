"""The pipeline's stages, one module per asset, and what they share."""
