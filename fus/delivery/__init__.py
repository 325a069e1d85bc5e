"""FUS unicast delivery (TS 102 542-4 interface 6): the download server under `/firmware/`, its
settings and access control. `fus.downloads.file_url` builds the URLs everyone hands out."""
