// Imaging module
