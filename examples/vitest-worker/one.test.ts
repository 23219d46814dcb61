import { defineFileTest } from './vm-test.js';

defineFileTest('one');
