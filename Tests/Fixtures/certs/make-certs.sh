#!/bin/sh
# Regenerates the test certificates in this folder. They are committed so tests do not depend on openssl;
# run this only to change them. All keys are ECDSA P-256 and valid for 30 years.
set -eu
cd "$(dirname "$0")"
days=10950
mk_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
        -days $days -subj "/CN=$2" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
mk_leaf() { # name ca san
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$4" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days $days -sha256 -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
mk_ca ca "Perch Test CA"
mk_ca other-ca "Some Other CA"
# The server certificate used by unit tests and by the integration servers (Prosody, ejabberd).
mk_leaf server ca "DNS:perch.test,DNS:*.perch.test,DNS:localhost" perch.test
rm -f ./*.srl
