// Package iam is flowwatch's IAM and STS: users, access keys, roles, inline
// policies, policy document validation as IAM validates, and policy
// evaluation. Its state (which holds secret keys) is one JSON file in the
// data dir, iam.json, replaced atomically (temporary file, fsync, rename,
// directory fsync) with mode 0600.
//
// It serves three callers:
//   - the wire: QueryService and STSService for awsapi.Router.HandleProtocol;
//   - the Router: Secret (SigV4 secrets of users' keys) and
//     RequestAuthorizer (policies applied to every request signed with a
//     user's key; root keys are not restricted), with logs.Resources naming
//     the resource of each CloudWatch Logs operation;
//   - other services: AssumableBy and Authorize (delivery's trust and
//     permission checks, evaluated at each call so policy changes apply at
//     once) and AuthorizeCaller (extra actions such as iam:PassRole).
//
// Decisions where AWS's behaviour is not fully documented:
//   - Names of users and roles are unique ignoring case, as in IAM; inline
//     policy names are exact.
//   - A missing Version means 2008-10-17: accepted, but policy variables are
//     literal text, as the IAM Version element page says.
//   - Customer managed policies exist in their first version only
//     (CreatePolicyVersion is not served); AWS managed policies
//     (arn:aws:iam::aws:policy/…) do not, so attaching one, or naming one as
//     a permissions boundary, is NoSuchEntity rather than silently granting
//     or restricting nothing.
//   - A permissions boundary intersects the identity policies: allowed only
//     when both allow; an explicit deny in either wins.
//   - sts:GetCallerIdentity needs no permission (STS API reference).
//   - Log group operations are authorized on
//     arn:aws:logs:R:A:log-group:NAME:*, stream operations (CreateLogStream,
//     DeleteLogStream, PutLogEvents, GetLogEvents) on
//     …:log-group:NAME:log-stream:STREAM, FilterLogEvents on its group (the
//     Service Authorization Reference lists only log-group for it).
package iam
