"""The Litestar service: REST, WebSocket, static files, and the one composition root."""
