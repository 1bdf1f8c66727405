// Tensor module
