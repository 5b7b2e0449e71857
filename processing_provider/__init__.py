"""The Processing provider ``displacement`` and one module per algorithm."""
