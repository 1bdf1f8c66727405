// CoDE training: views, loss, optimiser, loop.
