"""Stage 4: find sensitive data in every text-bearing part of a request.  Offline, in-process."""
