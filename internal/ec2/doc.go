package ec2

// Decisions where AWS's behaviour is unverified or flowwatch differs on
// purpose (spec: shared/spec/vpc-flow-logs.md §6 and §8):
//
//   - A resource id that names nothing fails only that resource, in
//     CreateFlowLogs' unsuccessful list (InvalidVpcID.NotFound, …), like the
//     destination errors AWS reports there; a malformed id (wrong prefix for
//     ResourceType) fails the request with InvalidParameter.
//   - Duplicates are the same resource, traffic type, destination type and
//     normalised destination (log group name; S3 ARN without trailing "/"),
//     in the same region: FlowLogAlreadyExists per resource.
//   - A log group ARN given as LogDestination keeps a ":*" suffix verbatim
//     (fidelity: AWS accepts it and delivery then fails, spec §4.5).
//   - S3 buckets are not checked at creation: delivery writes to a local
//     bucket directory it creates, so there is no "does not exist" case.
//   - Every LogFormat defect is InvalidParameterValue with AWS's one
//     message (flowlog.FormatError).
//   - The monitored hosts live in one region (serve --region): requests
//     signed for another region see no instances, interfaces, subnets or
//     VPC, and flow logs are kept per region as in AWS.
//   - Inventory resources carry derived tags (Name = hostname for
//     instances, the Linux interface name for interfaces); CreateTags adds
//     the user's tags beside them (a user's Name wins) and DeleteTags
//     removes only the user's. Tags are persisted with the flow logs.
//   - A subnet spanning hosts in several AZs (the same prefix on hosts with
//     different --az) reports the AZ of the first instance by id.
//   - Transit gateway and NAT gateway resource types are accepted by the
//     validator but name nothing in flowwatch, so each id is NotFound.
//   - DescribeFlowLogs' MaxResults is 5–1000 and larger values return 1000
//     (older API reference); the inventory Describes refuse values above
//     1000 and MaxResults together with explicit ids.
