package calculator

import (
	"context"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// Service is what the API does: register mechanics and orders, report orders. Safe for concurrent use.
type Service struct {
	store *Store
	proc  *Processor
}

// NewService returns a Service that stores in store and hands new orders to proc.
func NewService(store *Store, proc *Processor) *Service {
	return &Service{store: store, proc: proc}
}

// RegisterMechanic registers m; ErrMatchExists if its match is taken.
func (s *Service) RegisterMechanic(ctx context.Context, m Mechanic) error {
	return s.store.AddMechanic(ctx, m)
}

// RegisterOrder registers a purchase for calculation; ErrOrderExists if n is already registered. The
// order is durable on return and the processor is woken for it.
func (s *Service) RegisterOrder(ctx context.Context, n ordernum.Number, goods []Good) error {
	if err := s.store.AddOrder(ctx, n, goods, now().Add(s.proc.Delay())); err != nil {
		return err
	}
	s.proc.Wake()
	return nil
}

// Order reports the order numbered n; found is false if no such order is registered.
func (s *Service) Order(ctx context.Context, n string) (o Order, found bool, err error) {
	if _, err := ordernum.Parse(n); err != nil {
		return Order{}, false, nil // never registrable, so unknown
	}
	return s.store.Order(ctx, n)
}
