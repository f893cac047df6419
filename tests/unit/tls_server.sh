#!/bin/sh
# tls_server.sh: the test PKI and TLS servers of test_tls.c (OpenSSL 3.0 CLI).
#
#   tls_server.sh pki DIR             makes DIR/<name>.pem and DIR/<name>.key for:
#       ca-ec      P-256 test CA                 ca-rsa     RSA-2048 test CA
#       ca-other   P-256 CA the client does not trust
#       ec         localhost and alias.test, P-256, by ca-ec
#       rsa        localhost, RSA-2048, by ca-rsa
#       wrong      wrong.example, by ca-ec       expired    localhost, by ca-ec, valid only in 2020
#       other      localhost, by ca-other
#   tls_server.sh serve DIR NAME [ARGS]   execs openssl s_server for DIR/NAME on 127.0.0.1, an
#       ephemeral port (printed as "ACCEPT 127.0.0.1:PORT" on stdout), TLS 1.2, plus ARGS: -www
#       (answer GET with a status page) or -rev (echo each line reversed), -cipher ...
set -eu

ca() { # name keyspec subject
	openssl req -x509 -newkey "$2" -nodes -keyout "$D/$1.key" -out "$D/$1.pem" -days 30 \
		-subj "/CN=$3" -addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

csr() { # name keyspec dns[,dns...]
	openssl req -newkey "$2" -nodes -keyout "$D/$1.key" -out "$D/$1.csr" -subj "/CN=${3%%,*}" \
		2>/dev/null
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
		"$(echo "$3" | sed 's/,/,DNS:/g')" >"$D/$1.ext"
}

leaf() { # name keyspec dns ca
	csr "$1" "$2" "$3"
	openssl x509 -req -in "$D/$1.csr" -CA "$D/$4.pem" -CAkey "$D/$4.key" -CAcreateserial \
		-days 30 -extfile "$D/$1.ext" -out "$D/$1.pem" 2>/dev/null
}

# A certificate whose validity ended long ago: `openssl x509 -req` cannot set past dates in
# OpenSSL 3.0, `openssl ca` can (-startdate/-enddate).
expired() { # name keyspec dns ca
	csr "$1" "$2" "$3"
	mkdir -p "$D/db"
	: >"$D/db/index.txt"
	echo 1000 >"$D/db/serial"
	cat >"$D/db/ca.cnf" <<EOF
[ca]
default_ca = test
[test]
database = $D/db/index.txt
new_certs_dir = $D/db
serial = $D/db/serial
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
	openssl ca -batch -notext -config "$D/db/ca.cnf" -cert "$D/$4.pem" -keyfile "$D/$4.key" \
		-startdate 20200101000000Z -enddate 20200201000000Z -extfile "$D/$1.ext" \
		-in "$D/$1.csr" -out "$D/$1.pem" 2>/dev/null
}


case "${1:-}" in
pki)
	D=$2
	mkdir -p "$D"
	openssl ecparam -name prime256v1 -out "$D/p256.param"
	EC="ec:$D/p256.param"
	ca ca-ec "$EC" "Test EC CA"
	ca ca-rsa rsa:2048 "Test RSA CA"
	ca ca-other "$EC" "Untrusted Test CA"
	leaf ec "$EC" localhost,alias.test ca-ec
	leaf rsa rsa:2048 localhost ca-rsa
	leaf wrong "$EC" wrong.example ca-ec
	leaf other "$EC" localhost ca-other
	expired expired "$EC" localhost ca-ec
	;;
serve)
	D=$2
	N=$3
	shift 3
	exec openssl s_server -accept 127.0.0.1:0 -cert "$D/$N.pem" -key "$D/$N.key" -tls1_2 "$@"
	;;
*)
	echo "usage: $0 pki DIR | serve DIR NAME [s_server args]" >&2
	exit 2
	;;
esac
