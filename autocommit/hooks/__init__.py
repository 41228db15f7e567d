"""Git hooks: installing them beside the user's own, and what they do when git runs them."""
