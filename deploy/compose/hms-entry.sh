#!/bin/sh
# Entry point of the HMS containers under compose: secrets arrive as files, the HMS reads its settings
# from HMS_* variables and its TLS files and keys from $HMS_HOME; bridge the two, then exec `hms ARGS`.
set -eu
umask 077
mkdir -p "$HMS_HOME/tls" "$HMS_HOME/keys" "$HMS_HOME/run"
cp /run/secrets/hms/tls/*.pem "$HMS_HOME/tls/"
tar -xf /run/secrets/hms/keys.tar -C "$HMS_HOME/keys"
HMS_DATABASE_URL="$(cat /run/secrets/hms_database_url)"
HMS_IMMUDB_PASSWORD="$(cat /run/secrets/hms_immudb_password)"
export HMS_DATABASE_URL HMS_IMMUDB_PASSWORD
exec hms "$@"
