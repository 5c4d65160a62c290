// Package delivery puts flow log configurations to work: it takes the
// closed capture windows (flow records of every monitored interface),
// gives each active flow log the records of the interfaces under its
// resource, applies its traffic type, aggregation interval and format, and
// delivers them to CloudWatch Logs or to S3.
//
// Input. Capture (and the collector) call Sink.Deliver with the records of
// closed windows; it returns once they are durable in the spool
// (DataDir/delivery/spool), so the caller may forget them. Files dropped
// into the spool's inbox (WriteInbox, `flowwatch inject`) are taken as if
// delivered at that moment.
//
// Scope and filtering. A flow log takes records whose interface-id is
// under its resource now (ec2 InterfacesUnder: a VPC's, a subnet's or one
// interface) and that were spooled after it was created. TrafficType
// ACCEPT/REJECT keeps those actions; NODATA and SKIPDATA go with every
// type. Interface metadata missing from a record (vpc-id, subnet-id,
// instance-id, region, account-id) is filled from the inventory.
//
// Aggregation. Records fall into windows of the flow log's
// MaxAggregationInterval (60 or 600 s, aligned to the epoch) by their
// start; a window is delivered once it has ended plus Grace (2 s), so
// records are stored within the interval plus a few seconds. Within a
// window the same flow seen in several shorter capture windows becomes one
// record (packets and bytes summed, tcp-flags OR-ed, start/end spanning),
// and an interface with traffic loses its NODATA records. Records arriving
// after their window was delivered are delivered on their own.
//
// CloudWatch Logs. One stream per interface, named <eni-id>-<traffic type
// in lower case> (spec §4.1), created on the interface's first traffic;
// the group is created when missing (again if deleted). At every window
// the delivery role is checked as AWS would: its trust policy must let
// vpc-flow-logs.amazonaws.com assume it with aws:SourceAccount and
// aws:SourceArn (the flow log's ARN), and its policies must allow
// logs:CreateLogGroup (when the group is missing), logs:CreateLogStream
// (when the stream is missing) and logs:PutLogEvents on the stream ARN.
// Otherwise nothing of the window is written, its records are dropped (as
// AWS drops them) and the flow log reports DeliverLogsStatus FAILED with
// "Access error"; the next window that is allowed is delivered and the
// status is SUCCESS again. Events are written through the logs service, so
// its rules apply (events older than 14 days are not stored).
//
// S3. Objects with AWS's keys (spec §5.2) in DataDir/s3/<bucket>/<key>, or
// on an S3-compatible endpoint when FLOWWATCH_S3_ENDPOINT is set (with
// FLOWWATCH_S3_ACCESS_KEY_ID, FLOWWATCH_S3_SECRET_ACCESS_KEY and optionally
// FLOWWATCH_S3_REGION; path-style). Each delivered window gives one object
// per five-minute period of its records' end times, holding every
// interface's records: gzip text with the header line, or Parquet (GZIP
// inside, one optional column per format field, AWS's types). The
// object's hash is derived from its contents' origin, so a replay after a
// crash rewrites the same object.
//
// Durability. Per flow log, the state file (DataDir/delivery/state.json)
// records how far through the spool it is and which window of which file
// it has delivered; a spool file is deleted once every flow log is past
// it. A crash loses no acknowledged window and duplicates none: a
// CloudWatch Logs window is marked in flight in the state before its
// events are written, and its replay after a crash writes only the events
// the stream does not hold yet; S3 objects are rewritten in place.
package delivery
