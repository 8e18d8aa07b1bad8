"""Existing results (SEG, TID 1500 SR, RT structure sets) shown read-only on their series."""
