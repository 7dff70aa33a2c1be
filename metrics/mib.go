package metrics

// The MIB, in the kernel's group order and, within a group, the order in which
// Linux 6.18 prints the fields (net/ipv4/proc.c: snmp4_ipstats_list, icmp_put,
// snmp4_tcp_list, snmp4_net_list, snmp4_ipextstats_list). Each constant is the
// group name followed by the field name, as nstat spells it. The Ustack group
// holds drops the kernel has no counter for. mib_test.go checks the table
// against the constant names.

const (
	// Ip
	IpForwarding ID = iota
	IpDefaultTTL
	IpInReceives
	IpInHdrErrors
	IpInAddrErrors
	IpForwDatagrams
	IpInUnknownProtos
	IpInDiscards
	IpInDelivers
	IpOutRequests
	IpOutDiscards
	IpOutNoRoutes
	IpReasmTimeout
	IpReasmReqds
	IpReasmOKs
	IpReasmFails
	IpFragOKs
	IpFragFails
	IpFragCreates
	IpOutTransmits

	// Icmp
	IcmpInMsgs
	IcmpInErrors
	IcmpInCsumErrors
	IcmpInDestUnreachs
	IcmpInTimeExcds
	IcmpInParmProbs
	IcmpInSrcQuenchs
	IcmpInRedirects
	IcmpInEchos
	IcmpInEchoReps
	IcmpInTimestamps
	IcmpInTimestampReps
	IcmpInAddrMasks
	IcmpInAddrMaskReps
	IcmpOutMsgs
	IcmpOutErrors
	IcmpOutRateLimitGlobal
	IcmpOutRateLimitHost
	IcmpOutDestUnreachs
	IcmpOutTimeExcds
	IcmpOutParmProbs
	IcmpOutSrcQuenchs
	IcmpOutRedirects
	IcmpOutEchos
	IcmpOutEchoReps
	IcmpOutTimestamps
	IcmpOutTimestampReps
	IcmpOutAddrMasks
	IcmpOutAddrMaskReps

	// Tcp
	TcpRtoAlgorithm
	TcpRtoMin
	TcpRtoMax
	TcpMaxConn
	TcpActiveOpens
	TcpPassiveOpens
	TcpAttemptFails
	TcpEstabResets
	TcpCurrEstab
	TcpInSegs
	TcpOutSegs
	TcpRetransSegs
	TcpInErrs
	TcpOutRsts
	TcpInCsumErrors

	// TcpExt
	TcpExtSyncookiesSent
	TcpExtSyncookiesRecv
	TcpExtSyncookiesFailed
	TcpExtEmbryonicRsts
	TcpExtPruneCalled
	TcpExtRcvPruned
	TcpExtOfoPruned
	TcpExtOutOfWindowIcmps
	TcpExtLockDroppedIcmps
	TcpExtArpFilter
	TcpExtTW
	TcpExtTWRecycled
	TcpExtTWKilled
	TcpExtPAWSActive
	TcpExtPAWSEstab
	TcpExtBeyondWindow
	TcpExtTSEcrRejected
	TcpExtPAWSOldAck
	TcpExtPAWSTimewait
	TcpExtDelayedACKs
	TcpExtDelayedACKLocked
	TcpExtDelayedACKLost
	TcpExtListenOverflows
	TcpExtListenDrops
	TcpExtTCPHPHits
	TcpExtTCPPureAcks
	TcpExtTCPHPAcks
	TcpExtTCPRenoRecovery
	TcpExtTCPSackRecovery
	TcpExtTCPSACKReneging
	TcpExtTCPSACKReorder
	TcpExtTCPRenoReorder
	TcpExtTCPTSReorder
	TcpExtTCPFullUndo
	TcpExtTCPPartialUndo
	TcpExtTCPDSACKUndo
	TcpExtTCPLossUndo
	TcpExtTCPLostRetransmit
	TcpExtTCPRenoFailures
	TcpExtTCPSackFailures
	TcpExtTCPLossFailures
	TcpExtTCPFastRetrans
	TcpExtTCPSlowStartRetrans
	TcpExtTCPTimeouts
	TcpExtTCPLossProbes
	TcpExtTCPLossProbeRecovery
	TcpExtTCPRenoRecoveryFail
	TcpExtTCPSackRecoveryFail
	TcpExtTCPRcvCollapsed
	TcpExtTCPBacklogCoalesce
	TcpExtTCPDSACKOldSent
	TcpExtTCPDSACKOfoSent
	TcpExtTCPDSACKRecv
	TcpExtTCPDSACKOfoRecv
	TcpExtTCPAbortOnData
	TcpExtTCPAbortOnClose
	TcpExtTCPAbortOnMemory
	TcpExtTCPAbortOnTimeout
	TcpExtTCPAbortOnLinger
	TcpExtTCPAbortFailed
	TcpExtTCPMemoryPressures
	TcpExtTCPMemoryPressuresChrono
	TcpExtTCPSACKDiscard
	TcpExtTCPDSACKIgnoredOld
	TcpExtTCPDSACKIgnoredNoUndo
	TcpExtTCPSpuriousRTOs
	TcpExtTCPMD5NotFound
	TcpExtTCPMD5Unexpected
	TcpExtTCPMD5Failure
	TcpExtTCPSackShifted
	TcpExtTCPSackMerged
	TcpExtTCPSackShiftFallback
	TcpExtTCPBacklogDrop
	TcpExtPFMemallocDrop
	TcpExtTCPMinTTLDrop
	TcpExtTCPDeferAcceptDrop
	TcpExtIPReversePathFilter
	TcpExtTCPTimeWaitOverflow
	TcpExtTCPReqQFullDoCookies
	TcpExtTCPReqQFullDrop
	TcpExtTCPRetransFail
	TcpExtTCPRcvCoalesce
	TcpExtTCPOFOQueue
	TcpExtTCPOFODrop
	TcpExtTCPOFOMerge
	TcpExtTCPChallengeACK
	TcpExtTCPSYNChallenge
	TcpExtTCPFastOpenActive
	TcpExtTCPFastOpenActiveFail
	TcpExtTCPFastOpenPassive
	TcpExtTCPFastOpenPassiveFail
	TcpExtTCPFastOpenListenOverflow
	TcpExtTCPFastOpenCookieReqd
	TcpExtTCPFastOpenBlackhole
	TcpExtTCPSpuriousRtxHostQueues
	TcpExtBusyPollRxPackets
	TcpExtTCPAutoCorking
	TcpExtTCPFromZeroWindowAdv
	TcpExtTCPToZeroWindowAdv
	TcpExtTCPWantZeroWindowAdv
	TcpExtTCPSynRetrans
	TcpExtTCPOrigDataSent
	TcpExtTCPHystartTrainDetect
	TcpExtTCPHystartTrainCwnd
	TcpExtTCPHystartDelayDetect
	TcpExtTCPHystartDelayCwnd
	TcpExtTCPACKSkippedSynRecv
	TcpExtTCPACKSkippedPAWS
	TcpExtTCPACKSkippedSeq
	TcpExtTCPACKSkippedFinWait2
	TcpExtTCPACKSkippedTimeWait
	TcpExtTCPACKSkippedChallenge
	TcpExtTCPWinProbe
	TcpExtTCPKeepAlive
	TcpExtTCPMTUPFail
	TcpExtTCPMTUPSuccess
	TcpExtTCPDelivered
	TcpExtTCPDeliveredCE
	TcpExtTCPAckCompressed
	TcpExtTCPZeroWindowDrop
	TcpExtTCPRcvQDrop
	TcpExtTCPWqueueTooBig
	TcpExtTCPFastOpenPassiveAltKey
	TcpExtTcpTimeoutRehash
	TcpExtTcpDuplicateDataRehash
	TcpExtTCPDSACKRecvSegs
	TcpExtTCPDSACKIgnoredDubious
	TcpExtTCPMigrateReqSuccess
	TcpExtTCPMigrateReqFailure
	TcpExtTCPPLBRehash
	TcpExtTCPAORequired
	TcpExtTCPAOBad
	TcpExtTCPAOKeyNotFound
	TcpExtTCPAOGood
	TcpExtTCPAODroppedIcmps

	// IpExt
	IpExtInNoRoutes
	IpExtInTruncatedPkts
	IpExtInMcastPkts
	IpExtOutMcastPkts
	IpExtInBcastPkts
	IpExtOutBcastPkts
	IpExtInOctets
	IpExtOutOctets
	IpExtInMcastOctets
	IpExtOutMcastOctets
	IpExtInBcastOctets
	IpExtOutBcastOctets
	IpExtInCsumErrors
	IpExtInNoECTPkts
	IpExtInECT1Pkts
	IpExtInECT0Pkts
	IpExtInCEPkts
	IpExtReasmOverlaps

	// Ustack
	UstackBadOptions       // TCP options with a bogus length (header.ParseOptions error); Linux parses what it can and goes on
	UstackTruncated        // TCP segment shorter than a fixed header or its data offset (Linux: discard_it, no counter)
	UstackDevReadErrors    // errors reading from the device
	UstackDevWriteErrors   // packets the device refused to write
	UstackWorkerQueueDrops // packets dropped because a worker's input queue was full

	// TcpExt counters of older kernels (GroupTcpExtLegacy)
	TcpExtPAWSPassive // Linux <= 4.11: SYN rejected by the tw_recycle peer timestamp cache

	// NumIDs is the number of counters; IDs run from 0 to NumIDs-1.
	NumIDs
)

// mib gives each ID its group and field name, indexed by ID.
var mib = [NumIDs]struct {
	group Group
	name  string
}{
	IpForwarding:                    {GroupIp, "Forwarding"},
	IpDefaultTTL:                    {GroupIp, "DefaultTTL"},
	IpInReceives:                    {GroupIp, "InReceives"},
	IpInHdrErrors:                   {GroupIp, "InHdrErrors"},
	IpInAddrErrors:                  {GroupIp, "InAddrErrors"},
	IpForwDatagrams:                 {GroupIp, "ForwDatagrams"},
	IpInUnknownProtos:               {GroupIp, "InUnknownProtos"},
	IpInDiscards:                    {GroupIp, "InDiscards"},
	IpInDelivers:                    {GroupIp, "InDelivers"},
	IpOutRequests:                   {GroupIp, "OutRequests"},
	IpOutDiscards:                   {GroupIp, "OutDiscards"},
	IpOutNoRoutes:                   {GroupIp, "OutNoRoutes"},
	IpReasmTimeout:                  {GroupIp, "ReasmTimeout"},
	IpReasmReqds:                    {GroupIp, "ReasmReqds"},
	IpReasmOKs:                      {GroupIp, "ReasmOKs"},
	IpReasmFails:                    {GroupIp, "ReasmFails"},
	IpFragOKs:                       {GroupIp, "FragOKs"},
	IpFragFails:                     {GroupIp, "FragFails"},
	IpFragCreates:                   {GroupIp, "FragCreates"},
	IpOutTransmits:                  {GroupIp, "OutTransmits"},
	IcmpInMsgs:                      {GroupIcmp, "InMsgs"},
	IcmpInErrors:                    {GroupIcmp, "InErrors"},
	IcmpInCsumErrors:                {GroupIcmp, "InCsumErrors"},
	IcmpInDestUnreachs:              {GroupIcmp, "InDestUnreachs"},
	IcmpInTimeExcds:                 {GroupIcmp, "InTimeExcds"},
	IcmpInParmProbs:                 {GroupIcmp, "InParmProbs"},
	IcmpInSrcQuenchs:                {GroupIcmp, "InSrcQuenchs"},
	IcmpInRedirects:                 {GroupIcmp, "InRedirects"},
	IcmpInEchos:                     {GroupIcmp, "InEchos"},
	IcmpInEchoReps:                  {GroupIcmp, "InEchoReps"},
	IcmpInTimestamps:                {GroupIcmp, "InTimestamps"},
	IcmpInTimestampReps:             {GroupIcmp, "InTimestampReps"},
	IcmpInAddrMasks:                 {GroupIcmp, "InAddrMasks"},
	IcmpInAddrMaskReps:              {GroupIcmp, "InAddrMaskReps"},
	IcmpOutMsgs:                     {GroupIcmp, "OutMsgs"},
	IcmpOutErrors:                   {GroupIcmp, "OutErrors"},
	IcmpOutRateLimitGlobal:          {GroupIcmp, "OutRateLimitGlobal"},
	IcmpOutRateLimitHost:            {GroupIcmp, "OutRateLimitHost"},
	IcmpOutDestUnreachs:             {GroupIcmp, "OutDestUnreachs"},
	IcmpOutTimeExcds:                {GroupIcmp, "OutTimeExcds"},
	IcmpOutParmProbs:                {GroupIcmp, "OutParmProbs"},
	IcmpOutSrcQuenchs:               {GroupIcmp, "OutSrcQuenchs"},
	IcmpOutRedirects:                {GroupIcmp, "OutRedirects"},
	IcmpOutEchos:                    {GroupIcmp, "OutEchos"},
	IcmpOutEchoReps:                 {GroupIcmp, "OutEchoReps"},
	IcmpOutTimestamps:               {GroupIcmp, "OutTimestamps"},
	IcmpOutTimestampReps:            {GroupIcmp, "OutTimestampReps"},
	IcmpOutAddrMasks:                {GroupIcmp, "OutAddrMasks"},
	IcmpOutAddrMaskReps:             {GroupIcmp, "OutAddrMaskReps"},
	TcpRtoAlgorithm:                 {GroupTcp, "RtoAlgorithm"},
	TcpRtoMin:                       {GroupTcp, "RtoMin"},
	TcpRtoMax:                       {GroupTcp, "RtoMax"},
	TcpMaxConn:                      {GroupTcp, "MaxConn"},
	TcpActiveOpens:                  {GroupTcp, "ActiveOpens"},
	TcpPassiveOpens:                 {GroupTcp, "PassiveOpens"},
	TcpAttemptFails:                 {GroupTcp, "AttemptFails"},
	TcpEstabResets:                  {GroupTcp, "EstabResets"},
	TcpCurrEstab:                    {GroupTcp, "CurrEstab"},
	TcpInSegs:                       {GroupTcp, "InSegs"},
	TcpOutSegs:                      {GroupTcp, "OutSegs"},
	TcpRetransSegs:                  {GroupTcp, "RetransSegs"},
	TcpInErrs:                       {GroupTcp, "InErrs"},
	TcpOutRsts:                      {GroupTcp, "OutRsts"},
	TcpInCsumErrors:                 {GroupTcp, "InCsumErrors"},
	TcpExtSyncookiesSent:            {GroupTcpExt, "SyncookiesSent"},
	TcpExtSyncookiesRecv:            {GroupTcpExt, "SyncookiesRecv"},
	TcpExtSyncookiesFailed:          {GroupTcpExt, "SyncookiesFailed"},
	TcpExtEmbryonicRsts:             {GroupTcpExt, "EmbryonicRsts"},
	TcpExtPruneCalled:               {GroupTcpExt, "PruneCalled"},
	TcpExtRcvPruned:                 {GroupTcpExt, "RcvPruned"},
	TcpExtOfoPruned:                 {GroupTcpExt, "OfoPruned"},
	TcpExtOutOfWindowIcmps:          {GroupTcpExt, "OutOfWindowIcmps"},
	TcpExtLockDroppedIcmps:          {GroupTcpExt, "LockDroppedIcmps"},
	TcpExtArpFilter:                 {GroupTcpExt, "ArpFilter"},
	TcpExtTW:                        {GroupTcpExt, "TW"},
	TcpExtTWRecycled:                {GroupTcpExt, "TWRecycled"},
	TcpExtTWKilled:                  {GroupTcpExt, "TWKilled"},
	TcpExtPAWSActive:                {GroupTcpExt, "PAWSActive"},
	TcpExtPAWSEstab:                 {GroupTcpExt, "PAWSEstab"},
	TcpExtBeyondWindow:              {GroupTcpExt, "BeyondWindow"},
	TcpExtTSEcrRejected:             {GroupTcpExt, "TSEcrRejected"},
	TcpExtPAWSOldAck:                {GroupTcpExt, "PAWSOldAck"},
	TcpExtPAWSTimewait:              {GroupTcpExt, "PAWSTimewait"},
	TcpExtDelayedACKs:               {GroupTcpExt, "DelayedACKs"},
	TcpExtDelayedACKLocked:          {GroupTcpExt, "DelayedACKLocked"},
	TcpExtDelayedACKLost:            {GroupTcpExt, "DelayedACKLost"},
	TcpExtListenOverflows:           {GroupTcpExt, "ListenOverflows"},
	TcpExtListenDrops:               {GroupTcpExt, "ListenDrops"},
	TcpExtTCPHPHits:                 {GroupTcpExt, "TCPHPHits"},
	TcpExtTCPPureAcks:               {GroupTcpExt, "TCPPureAcks"},
	TcpExtTCPHPAcks:                 {GroupTcpExt, "TCPHPAcks"},
	TcpExtTCPRenoRecovery:           {GroupTcpExt, "TCPRenoRecovery"},
	TcpExtTCPSackRecovery:           {GroupTcpExt, "TCPSackRecovery"},
	TcpExtTCPSACKReneging:           {GroupTcpExt, "TCPSACKReneging"},
	TcpExtTCPSACKReorder:            {GroupTcpExt, "TCPSACKReorder"},
	TcpExtTCPRenoReorder:            {GroupTcpExt, "TCPRenoReorder"},
	TcpExtTCPTSReorder:              {GroupTcpExt, "TCPTSReorder"},
	TcpExtTCPFullUndo:               {GroupTcpExt, "TCPFullUndo"},
	TcpExtTCPPartialUndo:            {GroupTcpExt, "TCPPartialUndo"},
	TcpExtTCPDSACKUndo:              {GroupTcpExt, "TCPDSACKUndo"},
	TcpExtTCPLossUndo:               {GroupTcpExt, "TCPLossUndo"},
	TcpExtTCPLostRetransmit:         {GroupTcpExt, "TCPLostRetransmit"},
	TcpExtTCPRenoFailures:           {GroupTcpExt, "TCPRenoFailures"},
	TcpExtTCPSackFailures:           {GroupTcpExt, "TCPSackFailures"},
	TcpExtTCPLossFailures:           {GroupTcpExt, "TCPLossFailures"},
	TcpExtTCPFastRetrans:            {GroupTcpExt, "TCPFastRetrans"},
	TcpExtTCPSlowStartRetrans:       {GroupTcpExt, "TCPSlowStartRetrans"},
	TcpExtTCPTimeouts:               {GroupTcpExt, "TCPTimeouts"},
	TcpExtTCPLossProbes:             {GroupTcpExt, "TCPLossProbes"},
	TcpExtTCPLossProbeRecovery:      {GroupTcpExt, "TCPLossProbeRecovery"},
	TcpExtTCPRenoRecoveryFail:       {GroupTcpExt, "TCPRenoRecoveryFail"},
	TcpExtTCPSackRecoveryFail:       {GroupTcpExt, "TCPSackRecoveryFail"},
	TcpExtTCPRcvCollapsed:           {GroupTcpExt, "TCPRcvCollapsed"},
	TcpExtTCPBacklogCoalesce:        {GroupTcpExt, "TCPBacklogCoalesce"},
	TcpExtTCPDSACKOldSent:           {GroupTcpExt, "TCPDSACKOldSent"},
	TcpExtTCPDSACKOfoSent:           {GroupTcpExt, "TCPDSACKOfoSent"},
	TcpExtTCPDSACKRecv:              {GroupTcpExt, "TCPDSACKRecv"},
	TcpExtTCPDSACKOfoRecv:           {GroupTcpExt, "TCPDSACKOfoRecv"},
	TcpExtTCPAbortOnData:            {GroupTcpExt, "TCPAbortOnData"},
	TcpExtTCPAbortOnClose:           {GroupTcpExt, "TCPAbortOnClose"},
	TcpExtTCPAbortOnMemory:          {GroupTcpExt, "TCPAbortOnMemory"},
	TcpExtTCPAbortOnTimeout:         {GroupTcpExt, "TCPAbortOnTimeout"},
	TcpExtTCPAbortOnLinger:          {GroupTcpExt, "TCPAbortOnLinger"},
	TcpExtTCPAbortFailed:            {GroupTcpExt, "TCPAbortFailed"},
	TcpExtTCPMemoryPressures:        {GroupTcpExt, "TCPMemoryPressures"},
	TcpExtTCPMemoryPressuresChrono:  {GroupTcpExt, "TCPMemoryPressuresChrono"},
	TcpExtTCPSACKDiscard:            {GroupTcpExt, "TCPSACKDiscard"},
	TcpExtTCPDSACKIgnoredOld:        {GroupTcpExt, "TCPDSACKIgnoredOld"},
	TcpExtTCPDSACKIgnoredNoUndo:     {GroupTcpExt, "TCPDSACKIgnoredNoUndo"},
	TcpExtTCPSpuriousRTOs:           {GroupTcpExt, "TCPSpuriousRTOs"},
	TcpExtTCPMD5NotFound:            {GroupTcpExt, "TCPMD5NotFound"},
	TcpExtTCPMD5Unexpected:          {GroupTcpExt, "TCPMD5Unexpected"},
	TcpExtTCPMD5Failure:             {GroupTcpExt, "TCPMD5Failure"},
	TcpExtTCPSackShifted:            {GroupTcpExt, "TCPSackShifted"},
	TcpExtTCPSackMerged:             {GroupTcpExt, "TCPSackMerged"},
	TcpExtTCPSackShiftFallback:      {GroupTcpExt, "TCPSackShiftFallback"},
	TcpExtTCPBacklogDrop:            {GroupTcpExt, "TCPBacklogDrop"},
	TcpExtPFMemallocDrop:            {GroupTcpExt, "PFMemallocDrop"},
	TcpExtTCPMinTTLDrop:             {GroupTcpExt, "TCPMinTTLDrop"},
	TcpExtTCPDeferAcceptDrop:        {GroupTcpExt, "TCPDeferAcceptDrop"},
	TcpExtIPReversePathFilter:       {GroupTcpExt, "IPReversePathFilter"},
	TcpExtTCPTimeWaitOverflow:       {GroupTcpExt, "TCPTimeWaitOverflow"},
	TcpExtTCPReqQFullDoCookies:      {GroupTcpExt, "TCPReqQFullDoCookies"},
	TcpExtTCPReqQFullDrop:           {GroupTcpExt, "TCPReqQFullDrop"},
	TcpExtTCPRetransFail:            {GroupTcpExt, "TCPRetransFail"},
	TcpExtTCPRcvCoalesce:            {GroupTcpExt, "TCPRcvCoalesce"},
	TcpExtTCPOFOQueue:               {GroupTcpExt, "TCPOFOQueue"},
	TcpExtTCPOFODrop:                {GroupTcpExt, "TCPOFODrop"},
	TcpExtTCPOFOMerge:               {GroupTcpExt, "TCPOFOMerge"},
	TcpExtTCPChallengeACK:           {GroupTcpExt, "TCPChallengeACK"},
	TcpExtTCPSYNChallenge:           {GroupTcpExt, "TCPSYNChallenge"},
	TcpExtTCPFastOpenActive:         {GroupTcpExt, "TCPFastOpenActive"},
	TcpExtTCPFastOpenActiveFail:     {GroupTcpExt, "TCPFastOpenActiveFail"},
	TcpExtTCPFastOpenPassive:        {GroupTcpExt, "TCPFastOpenPassive"},
	TcpExtTCPFastOpenPassiveFail:    {GroupTcpExt, "TCPFastOpenPassiveFail"},
	TcpExtTCPFastOpenListenOverflow: {GroupTcpExt, "TCPFastOpenListenOverflow"},
	TcpExtTCPFastOpenCookieReqd:     {GroupTcpExt, "TCPFastOpenCookieReqd"},
	TcpExtTCPFastOpenBlackhole:      {GroupTcpExt, "TCPFastOpenBlackhole"},
	TcpExtTCPSpuriousRtxHostQueues:  {GroupTcpExt, "TCPSpuriousRtxHostQueues"},
	TcpExtBusyPollRxPackets:         {GroupTcpExt, "BusyPollRxPackets"},
	TcpExtTCPAutoCorking:            {GroupTcpExt, "TCPAutoCorking"},
	TcpExtTCPFromZeroWindowAdv:      {GroupTcpExt, "TCPFromZeroWindowAdv"},
	TcpExtTCPToZeroWindowAdv:        {GroupTcpExt, "TCPToZeroWindowAdv"},
	TcpExtTCPWantZeroWindowAdv:      {GroupTcpExt, "TCPWantZeroWindowAdv"},
	TcpExtTCPSynRetrans:             {GroupTcpExt, "TCPSynRetrans"},
	TcpExtTCPOrigDataSent:           {GroupTcpExt, "TCPOrigDataSent"},
	TcpExtTCPHystartTrainDetect:     {GroupTcpExt, "TCPHystartTrainDetect"},
	TcpExtTCPHystartTrainCwnd:       {GroupTcpExt, "TCPHystartTrainCwnd"},
	TcpExtTCPHystartDelayDetect:     {GroupTcpExt, "TCPHystartDelayDetect"},
	TcpExtTCPHystartDelayCwnd:       {GroupTcpExt, "TCPHystartDelayCwnd"},
	TcpExtTCPACKSkippedSynRecv:      {GroupTcpExt, "TCPACKSkippedSynRecv"},
	TcpExtTCPACKSkippedPAWS:         {GroupTcpExt, "TCPACKSkippedPAWS"},
	TcpExtTCPACKSkippedSeq:          {GroupTcpExt, "TCPACKSkippedSeq"},
	TcpExtTCPACKSkippedFinWait2:     {GroupTcpExt, "TCPACKSkippedFinWait2"},
	TcpExtTCPACKSkippedTimeWait:     {GroupTcpExt, "TCPACKSkippedTimeWait"},
	TcpExtTCPACKSkippedChallenge:    {GroupTcpExt, "TCPACKSkippedChallenge"},
	TcpExtTCPWinProbe:               {GroupTcpExt, "TCPWinProbe"},
	TcpExtTCPKeepAlive:              {GroupTcpExt, "TCPKeepAlive"},
	TcpExtTCPMTUPFail:               {GroupTcpExt, "TCPMTUPFail"},
	TcpExtTCPMTUPSuccess:            {GroupTcpExt, "TCPMTUPSuccess"},
	TcpExtTCPDelivered:              {GroupTcpExt, "TCPDelivered"},
	TcpExtTCPDeliveredCE:            {GroupTcpExt, "TCPDeliveredCE"},
	TcpExtTCPAckCompressed:          {GroupTcpExt, "TCPAckCompressed"},
	TcpExtTCPZeroWindowDrop:         {GroupTcpExt, "TCPZeroWindowDrop"},
	TcpExtTCPRcvQDrop:               {GroupTcpExt, "TCPRcvQDrop"},
	TcpExtTCPWqueueTooBig:           {GroupTcpExt, "TCPWqueueTooBig"},
	TcpExtTCPFastOpenPassiveAltKey:  {GroupTcpExt, "TCPFastOpenPassiveAltKey"},
	TcpExtTcpTimeoutRehash:          {GroupTcpExt, "TcpTimeoutRehash"},
	TcpExtTcpDuplicateDataRehash:    {GroupTcpExt, "TcpDuplicateDataRehash"},
	TcpExtTCPDSACKRecvSegs:          {GroupTcpExt, "TCPDSACKRecvSegs"},
	TcpExtTCPDSACKIgnoredDubious:    {GroupTcpExt, "TCPDSACKIgnoredDubious"},
	TcpExtTCPMigrateReqSuccess:      {GroupTcpExt, "TCPMigrateReqSuccess"},
	TcpExtTCPMigrateReqFailure:      {GroupTcpExt, "TCPMigrateReqFailure"},
	TcpExtTCPPLBRehash:              {GroupTcpExt, "TCPPLBRehash"},
	TcpExtTCPAORequired:             {GroupTcpExt, "TCPAORequired"},
	TcpExtTCPAOBad:                  {GroupTcpExt, "TCPAOBad"},
	TcpExtTCPAOKeyNotFound:          {GroupTcpExt, "TCPAOKeyNotFound"},
	TcpExtTCPAOGood:                 {GroupTcpExt, "TCPAOGood"},
	TcpExtTCPAODroppedIcmps:         {GroupTcpExt, "TCPAODroppedIcmps"},
	IpExtInNoRoutes:                 {GroupIpExt, "InNoRoutes"},
	IpExtInTruncatedPkts:            {GroupIpExt, "InTruncatedPkts"},
	IpExtInMcastPkts:                {GroupIpExt, "InMcastPkts"},
	IpExtOutMcastPkts:               {GroupIpExt, "OutMcastPkts"},
	IpExtInBcastPkts:                {GroupIpExt, "InBcastPkts"},
	IpExtOutBcastPkts:               {GroupIpExt, "OutBcastPkts"},
	IpExtInOctets:                   {GroupIpExt, "InOctets"},
	IpExtOutOctets:                  {GroupIpExt, "OutOctets"},
	IpExtInMcastOctets:              {GroupIpExt, "InMcastOctets"},
	IpExtOutMcastOctets:             {GroupIpExt, "OutMcastOctets"},
	IpExtInBcastOctets:              {GroupIpExt, "InBcastOctets"},
	IpExtOutBcastOctets:             {GroupIpExt, "OutBcastOctets"},
	IpExtInCsumErrors:               {GroupIpExt, "InCsumErrors"},
	IpExtInNoECTPkts:                {GroupIpExt, "InNoECTPkts"},
	IpExtInECT1Pkts:                 {GroupIpExt, "InECT1Pkts"},
	IpExtInECT0Pkts:                 {GroupIpExt, "InECT0Pkts"},
	IpExtInCEPkts:                   {GroupIpExt, "InCEPkts"},
	IpExtReasmOverlaps:              {GroupIpExt, "ReasmOverlaps"},
	UstackBadOptions:                {GroupUstack, "BadOptions"},
	UstackTruncated:                 {GroupUstack, "Truncated"},
	UstackDevReadErrors:             {GroupUstack, "DevReadErrors"},
	UstackDevWriteErrors:            {GroupUstack, "DevWriteErrors"},
	UstackWorkerQueueDrops:          {GroupUstack, "WorkerQueueDrops"},
	TcpExtPAWSPassive:               {GroupTcpExtLegacy, "PAWSPassive"},
}
