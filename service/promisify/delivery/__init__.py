"""Push delivery: the result POSTed, signed, to the caller's callback_url until it lands."""
