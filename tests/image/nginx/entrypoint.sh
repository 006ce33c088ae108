#!/bin/sh
# The two steps of the official nginx image's entrypoint that docker/nginx.conf relies on
# (docker-entrypoint.d/15-local-resolvers.envsh and 20-envsubst-on-templates.sh), then nginx in the foreground.
set -eu
if [ -n "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ]; then
  NGINX_LOCAL_RESOLVERS=$(awk 'BEGIN{ORS=" "} $1=="nameserver" {print $2}' /etc/resolv.conf)
  export NGINX_LOCAL_RESOLVERS
fi
# Only variables that are set are substituted: nginx's own ($host, $api …) stay as they are.
defined=$(printf '${%s} ' $(env | cut -d= -f1))
for template in /etc/nginx/templates/*.template; do
  [ -f "$template" ] || continue
  envsubst "$defined" < "$template" > "/etc/nginx/conf.d/$(basename "$template" .template)"
done
nginx -t -q
exec nginx -g 'daemon off;'
