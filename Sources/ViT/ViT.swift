// ViT module
