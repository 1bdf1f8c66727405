// Hugging Face Hub client: the Hub cache layout (HubCache), downloads with resume and verification (HubClient),
// and the model-location rule of the command line (resolveModelLocation).
