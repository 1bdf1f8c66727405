print("deepfake")
