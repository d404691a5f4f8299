"""In-app notifications and e-mail. Neither carries personal data: a kind, a link, a reference."""
