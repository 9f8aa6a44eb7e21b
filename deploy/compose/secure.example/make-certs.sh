#!/bin/sh
# A throwaway CA and the agent's serving certificate for the secured Compose stack, in the shape
# cert-manager gives them in Kubernetes (ca.crt, tls.crt, tls.key). The certificate names the
# Compose service `fsagent` (Prometheus' server_name) and localhost, so that curl on the host
# can check it too:
#   sh deploy/compose/secure.example/make-certs.sh            # writes deploy/compose/secure.example/tls/
#   curl --cacert deploy/compose/secure.example/tls/ca.crt -u prometheus https://localhost:8080/metrics
# A demo CA: in production, certificates come from your own CA.
set -eu
dir=${1:-"$(dirname "$0")/tls"}
mkdir -p "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
# shellcheck disable=SC2086 # $ec is several arguments
openssl req -x509 $ec -days 365 -subj "/CN=fsagent demo CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
# shellcheck disable=SC2086
openssl req $ec -subj "/CN=fsagent" -keyout tls.key -out tls.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:fsagent,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
  -extfile tls.ext -out tls.crt 2>/dev/null
rm -f tls.csr tls.ext ca.srl
# The container runs as uid 1000, which is not the owner of these files on every host.
chmod 644 tls.key
echo "wrote $dir/ca.crt, tls.crt, tls.key"
