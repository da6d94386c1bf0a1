"""Who is asking: users and their tokens, the token check on each request, and the failed-sign-in limit."""
