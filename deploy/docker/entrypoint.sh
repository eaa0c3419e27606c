#!/bin/sh
# Container entry point of every Python service image: secrets arrive as files (compose secrets,
# mounted Kubernetes Secrets); VAR_FILE=/run/secrets/x exports VAR with the file's content, the
# convention of the official postgres image. Then the command runs as PID 1's only child.
set -eu
for name in DATABASE_URL SKILL_ADAPTER_NATS_PASSWORD SKILL_ADAPTER_INFERENCE_API_KEY; do
    file_var="${name}_FILE"
    eval "file=\${${file_var}:-}"
    if [ -n "${file}" ]; then
        value="$(cat "${file}")"
        export "${name}=${value}"
        unset "${file_var}"
    fi
done
exec "$@"
