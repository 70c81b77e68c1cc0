// given(events).when(command).then(events), after Emmett's deciderSpecification: decider
// tests read as sentences and need no mocks.

export interface Decider<Command, Event, State, Decision> {
  decide(command: Command, state: State): Decision;
  evolve(state: State, event: Event): State;
  initialState(): State;
}

type Outcome<Event, Error> = { ok: true; events: Event[] } | { ok: false; error: Error };

export function deciderSpecification<Command, Event, State, Error>(decider: Decider<Command, Event, State, Outcome<Event, Error>>) {
  return (...given: Event[]) => ({
    when(command: Command) {
      const outcome = () => decider.decide(command, given.reduce(decider.evolve, decider.initialState()));
      return {
        then(...expected: Event[]) {
          expect(outcome()).toEqual({ ok: true, events: expected });
        },
        thenNothingHappened() {
          expect(outcome()).toEqual({ ok: true, events: [] });
        },
        thenFails(error: Error) {
          expect(outcome()).toEqual({ ok: false, error });
        },
      };
    },
  });
}
