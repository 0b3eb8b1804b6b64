//! The cover-letter writer: an OpenAI-compatible chat-completions client and the offline composer.
