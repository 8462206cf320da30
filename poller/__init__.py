"""Long-polling client for the Restate query service: submit or attach, wait, print."""
