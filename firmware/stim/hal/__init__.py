"""Hardware access: the only firmware package that imports machine or rp2."""
