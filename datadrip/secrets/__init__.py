"""Where secrets live: the OS keyring, or an encrypted file where there is none."""
