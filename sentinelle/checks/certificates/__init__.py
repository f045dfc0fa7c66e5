"""Certificates: the expiry of those this machine serves (its listening TLS ports) and of
those it keeps (/etc/ssl/certs outside the CA store, /etc/letsencrypt/live).

`checks` holds the registered check; `x509` reads a certificate's dates and name, `sources`
finds the certificates on disk and on the listening ports.
"""
