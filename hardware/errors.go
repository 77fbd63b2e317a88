package hardware

import "errors"

var (
	// ErrInvalid reports a deployment, model or GPU that is out of range or cannot
	// hold its weights and some KV.
	ErrInvalid = errors.New("hardware: invalid deployment")
	// ErrUnknown reports a name that is not a built-in model or GPU.
	ErrUnknown = errors.New("hardware: unknown name")
)
