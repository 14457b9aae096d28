#!/bin/sh
# Regenerates the test certificates in this folder. They are committed so tests do not depend on openssl;
# run this only to change them. All keys are ECDSA P-256 and valid for 30 years.
# usage: make-certs.sh          everything (new CAs and a new server certificate: every leaf changes)
#        make-certs.sh leaves   only the certificate tests' leaves, from the existing ca.pem/ca.key
#        make-certs.sh federation   only the two servers' certificates of the federation tests
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
mk_cert() { # name key-type cn extension-lines...: a leaf from ca with exactly these extensions
    name=$1 cn=$3
    case $2 in
    ec) newkey="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
    rsa) newkey="-newkey rsa:2048" ;;
    esac
    shift 3
    # shellcheck disable=SC2086
    openssl req $newkey -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
    printf '%s\n' "$@" > "$name.ext"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days $days -sha256 -extfile "$name.ext" 2>/dev/null
    rm -f "$name.csr" "$name.ext"
}
mk_test_leaves() {
    # Another key for perch.test from the same CA (a mis-issued certificate), alone and with the real
    # server certificate appended to the chain it presents (which must not satisfy a pin of server.pem).
    mk_cert misissued ec perch.test subjectAltName=DNS:perch.test basicConstraints=CA:FALSE extendedKeyUsage=serverAuth
    cat misissued.pem server.pem > misissued-bundle.pem
    # Usage: for TLS clients only; for code signing and CA use; no extended key usage at all (any use);
    # an RSA key for signatures only, which RSA key exchange (it needs keyEncipherment) must not use.
    # The last two are RSA because OpenSSL's server refuses an ECDSA key without digitalSignature, and
    # the tests need a server that presents them.
    mk_cert client-auth ec perch.test subjectAltName=DNS:perch.test basicConstraints=CA:FALSE extendedKeyUsage=clientAuth
    mk_cert code-signing rsa perch.test subjectAltName=DNS:perch.test basicConstraints=CA:FALSE extendedKeyUsage=codeSigning keyUsage=keyCertSign
    mk_cert no-eku ec perch.test subjectAltName=DNS:perch.test basicConstraints=CA:FALSE
    mk_cert rsa-sign-only rsa perch.test subjectAltName=DNS:perch.test basicConstraints=CA:FALSE extendedKeyUsage=serverAuth keyUsage=digitalSignature
    # Self-signed, for perch.test.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self-signed.key -out self-signed.pem \
        -days $days -subj "/CN=perch.test" -addext subjectAltName=DNS:perch.test -addext extendedKeyUsage=serverAuth 2>/dev/null
    # Expired in 2021 (openssl x509 cannot backdate; openssl ca can).
    db=$(mktemp -d)
    touch "$db/index"
    echo 1000 > "$db/serial"
    printf '[ca]\ndefault_ca=t\n[t]\ndatabase=%s/index\nserial=%s/serial\nnew_certs_dir=%s\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n[x]\nsubjectAltName=DNS:perch.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$db" "$db" "$db" > "$db/ca.cnf"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout expired.key -out "$db/expired.csr" -subj "/CN=perch.test" 2>/dev/null
    openssl ca -batch -config "$db/ca.cnf" -cert ca.pem -keyfile ca.key -in "$db/expired.csr" -out expired.pem -notext \
        -startdate 20200101000000Z -enddate 20210101000000Z -extensions x 2>/dev/null
    rm -rf "$db"
}
mk_federation() {
    # The federation tests (scripts/integration/federation): Prosody serves perch.test and ejabberd
    # other.test, and each authenticates to the other over s2s TLS with SASL EXTERNAL, so each
    # certificate is presented as a TLS client certificate too (clientAuth).
    for d in perch.test other.test; do
        mk_cert "s2s-$d" ec "$d" "subjectAltName=DNS:$d,DNS:*.$d" basicConstraints=CA:FALSE \
            keyUsage=digitalSignature extendedKeyUsage=serverAuth,clientAuth
    done
}
if [ "${1:-}" = federation ]; then
    mk_federation
    rm -f ./*.srl
    exit
fi
if [ "${1:-}" != leaves ]; then
    mk_ca ca "Perch Test CA"
    mk_ca other-ca "Some Other CA"
    # The server certificate used by unit tests and by the integration servers (Prosody, ejabberd).
    mk_leaf server ca "DNS:perch.test,DNS:*.perch.test,DNS:localhost" perch.test
fi
mk_test_leaves
mk_federation
rm -f ./*.srl
