"""Push delivery: callback URL checks, the signed webhook POST, and its durable retries."""
