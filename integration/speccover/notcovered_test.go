package speccover

// notCovered lists the spec's rules that no test cites yet, with the reason.
var notCovered = map[string]string{}
