"""Siting models: MCLP, LSCP, p-median, p-center, capacitated and backup coverage, equity, two tiers."""
