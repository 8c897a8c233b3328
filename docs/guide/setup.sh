# Sourced by the chat, media and realtime guides: the state identity.md builds, in one step.
# A new tenant "Acme" with an API key, users alice and bob, and an access token for each.
GATEWAY=${GATEWAY:-http://127.0.0.1:3000}   # the gateway of `npm start`
SOCKET=${SOCKET:-http://127.0.0.1:3002}     # the socket service (WebSocket /ws)
rpc() { curl -s --fail-with-body -w '\n' -H 'content-type: application/json' "$@"; }
# The platform-admin credential: $ADMIN when set, else the file the first start wrote.
ADMIN=${ADMIN:-$(cat "${CAAS_DATA_DIR:-data}/admin-credential")}
TENANT=$(rpc -H "authorization: Bearer $ADMIN" -d '{"name":"Acme"}' \
  $GATEWAY/caas.auth.v1.TenantAdminService/CreateTenant | jq -r .tenant.id)
KEY=$(rpc -H "authorization: Bearer $ADMIN" -d "{\"tenant_id\":\"$TENANT\",\"name\":\"backend\"}" \
  $GATEWAY/caas.auth.v1.TenantAdminService/CreateApiKey | jq -r .secret)
for u in alice bob; do
  rpc -H "authorization: Bearer $KEY" -d "{\"user_id\":\"$u\",\"display_name\":\"${u^}\"}" \
    $GATEWAY/caas.auth.v1.UserAdminService/UpsertUser > /dev/null
done
# Access tokens live 5 minutes: run `tokens` again when a call answers "access token has expired".
tokens() {
  TOKEN=$(rpc -H "authorization: Bearer $KEY" -d '{"user_id":"alice","device_id":"alice-phone"}' \
    $GATEWAY/caas.auth.v1.UserAdminService/IssueUserToken | jq -r .tokens.accessToken)
  BOB_TOKEN=$(rpc -H "authorization: Bearer $KEY" -d '{"user_id":"bob","device_id":"bob-laptop"}' \
    $GATEWAY/caas.auth.v1.UserAdminService/IssueUserToken | jq -r .tokens.accessToken)
}
tokens
alice() { rpc -H "authorization: Bearer $TOKEN" "$@"; }
bob() { rpc -H "authorization: Bearer $BOB_TOKEN" "$@"; }
