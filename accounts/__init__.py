"""How people sign in to the web pages: the sign-in throttle's pieces (the client's
address, the lockout page), the first password they must change, and how long a
signed-in session lasts."""
