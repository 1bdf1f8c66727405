// Hugging Face Hub client
