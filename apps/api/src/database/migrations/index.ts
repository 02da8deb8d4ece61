import { CreateSchema1795497853374 } from './1795497853374-CreateSchema.js';
import { AddIngestAndSearch1795499023482 } from './1795499023482-AddIngestAndSearch.js';
import { AddRateLimitCounters1795500600000 } from './1795500600000-AddRateLimitCounters.js';
import { AddReasonCountsAndCoveringIndexes1795502400000 } from './1795502400000-AddReasonCountsAndCoveringIndexes.js';
import { AddHourlyRollups1795503600000 } from './1795503600000-AddHourlyRollups.js';
import { AddRollupCoveringIndexes1795505400000 } from './1795505400000-AddRollupCoveringIndexes.js';
import { AddDailyRollups1795510800000 } from './1795510800000-AddDailyRollups.js';
import { AddStepsRunStartedIndex1795514400000 } from './1795514400000-AddStepsRunStartedIndex.js';
import { PartitionedStorage1795600000000 } from './1795600000000-PartitionedStorage.js';
import { AddDataLifecycle1795600100000 } from './1795600100000-AddDataLifecycle.js';
import { AddScores1795600200000 } from './1795600200000-AddScores.js';
import { AddLlmFields1795600300000 } from './1795600300000-AddLlmFields.js';
import { DistributeOnCitus1795600500000 } from './1795600500000-DistributeOnCitus.js';
import { AddScoreRollups1795600700000 } from './1795600700000-AddScoreRollups.js';
import { AddScoreRejections1795600600000 } from './1795600600000-AddScoreRejections.js';

// Every migration, in order. A new migration is generated with `npm run migration:generate`
// and then listed here (an explicit list works the same from TypeScript and compiled JS).
export const migrations: (new () => unknown)[] = [
  CreateSchema1795497853374,
  AddIngestAndSearch1795499023482,
  AddRateLimitCounters1795500600000,
  AddReasonCountsAndCoveringIndexes1795502400000,
  AddHourlyRollups1795503600000,
  AddRollupCoveringIndexes1795505400000,
  AddDailyRollups1795510800000,
  AddStepsRunStartedIndex1795514400000,
  PartitionedStorage1795600000000,
  AddDataLifecycle1795600100000,
  AddScores1795600200000,
  AddLlmFields1795600300000,
  DistributeOnCitus1795600500000,
  AddScoreRejections1795600600000,
  AddScoreRollups1795600700000,
];
