package provision

import "time"

// Now is the service's clock: the one a ConnectState's ExpiresAt is read
// against (the connect page turns it into a countdown; tests move it).
func (s *Service) Now() time.Time { return s.now() }
