package smartflo

// What api.md marks assumed about Smartflo, kept here and listed in the
// README. Change a value here if the vendor proves it otherwise.
const (
	// MaxPageSize is the largest limit GET /v1/users accepts.
	MaxPageSize = 100
	// NotFoundStatus is the status PATCH and GET /v1/user/{id} answer for
	// an unknown id.
	NotFoundStatus = 404
	// AgentIDDigits is how many digits an agent id has (user_for_cdr.value
	// holds agent ids): 13, as in api.md's example "0502842370097". A roster
	// cell with fewer digits is taken for an id Excel turned into a number.
	AgentIDDigits = 13
	// The only sign of the request budget is a 429 (at most Retry-After
	// and the body's retry_after; as the vendor documents it, neither); no
	// header tells the remaining budget, so the limiter adapts to 429s (and
	// 503s from a proxy in front) with no hint needed.
)

// AgentDisabled is the agent.status of a disabled agent (api.md, "What
// public sources add", Smartflo: list filters, agent.status "Enabled 0,
// Blocked 1, Disabled 2, Busy 3"). One status tells two flags (block_agent
// and disable_agent): assumed, a disabled agent shows 2 whether or not it is
// also blocked, so a list status of 2 leaves block_agent unknown and the
// plan reads such a user in full, whose team_member.status tells the block
// on its own ("BLOCK = 0 UNBLOCK = 1").
const AgentDisabled = 2

// Where disable_agent reads back: not documented (api.md, "What public
// sources add", Smartflo: "disable_agent": "agent.status == 2 "Disabled"
// is the likely place: assumed"). Assumed, the list's agent.status and the
// one-user read's agent.agent_status, each equal to AgentDisabled.
const (
	disabledList = "agent.status"
	disabledRead = "agent.agent_status"
)
