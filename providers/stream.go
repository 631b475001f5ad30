package providers

import "context"

// Streamer is implemented by providers whose discovery takes long (many
// orders read under the CA's rate limits). DiscoverEach hands challenges
// over as they are found, an order (or a page) at a time, and the engine
// stores each batch at once: a process killed halfway through discovery
// keeps what it found, and the rows can move on while discovery goes on.
//
// The batches together are what Discover would return. An error from found
// (the store failed) ends discovery with that error.
type Streamer interface {
	DiscoverEach(ctx context.Context, found func([]Challenge) error) error
}
