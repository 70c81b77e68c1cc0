import { decide } from './commands.js';
import { evolve } from './evolve.js';
import { initialState } from './state.js';

/** The key aggregate as one Emmett-style decider. */
export const keyDecider = { decide, evolve, initialState };
