"""Schema as code: the snapshot model (Directus shape), its hash and the differ. Pure: no
I/O and no driver imports. (Arrives with the schema issue.)"""
