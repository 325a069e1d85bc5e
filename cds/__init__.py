"""CDS storage management per set-top box (TS 102 542-4 clause 13), over the ACS task machinery."""
